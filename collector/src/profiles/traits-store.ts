import type { SetTraitBody, TraitType } from '@tributary/spec';
import { and, asc, count, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { customerTraits } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { sealMetadata, sealTraitValue } from '../privacy/personal-data';
import type { TraitRecord } from './trait-response';

/** A trait is live until its `expiresAt`; expired ones read as missing until the cleanup deletes them. */
export const liveTrait = () => or(isNull(customerTraits.expiresAt), gt(customerTraits.expiresAt, sql`now()`));

/**
 * Sets traits by key in one statement, so a batch is stored whole or not at all. Values are stored as
 * jsonb and keep their JSON type; a personal-data value (email, phone, names ...) is stored sealed, and so
 * is the metadata.
 */
export async function upsertTraits(
  db: Db | Tx,
  keyring: Keyring,
  customerId: string,
  traits: SetTraitBody[],
): Promise<TraitRecord[]> {
  const now = new Date();
  const rows = traits.map((t) => ({
    customerId,
    traitKey: t.traitKey,
    // Serialized here and cast, because Drizzle's jsonb mapping passes strings through as JSON text
    // (the string "42" would become the number 42) and turns JSON null into SQL NULL.
    traitValue: sql`${JSON.stringify(sealTraitValue(keyring, t.traitKey, t.traitValue))}::jsonb`,
    traitType: t.traitType,
    source: t.source ?? 'api',
    computedAt: t.computedAt ?? null,
    expiresAt: t.expiresAt ?? null,
    metadata: sealMetadata(keyring, t.metadata),
    updatedAt: now,
  }));
  return db
    .insert(customerTraits)
    .values(rows)
    .onConflictDoUpdate({
      target: [customerTraits.customerId, customerTraits.traitKey],
      set: {
        traitValue: sql`excluded.trait_value`,
        traitType: sql`excluded.trait_type`,
        source: sql`excluded.source`,
        computedAt: sql`excluded.computed_at`,
        expiresAt: sql`excluded.expires_at`,
        metadata: sql`excluded.metadata`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .returning();
}

/** A page of the customer's live traits, by key. */
export async function listTraits(
  db: Db,
  customerId: string,
  q: { page: number; limit: number; traitType?: TraitType | undefined },
): Promise<{ rows: TraitRecord[]; total: number }> {
  const where = and(
    eq(customerTraits.customerId, customerId),
    liveTrait(),
    q.traitType ? eq(customerTraits.traitType, q.traitType) : undefined,
  );
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(customerTraits)
      .where(where)
      .orderBy(asc(customerTraits.traitKey))
      .limit(q.limit)
      .offset((q.page - 1) * q.limit),
    db.select({ total: count() }).from(customerTraits).where(where),
  ]);
  return { rows, total: totals[0]?.total ?? 0 };
}

/** The customer's live trait with this key, if any. */
export async function getTrait(db: Db, customerId: string, traitKey: string): Promise<TraitRecord | undefined> {
  const [row] = await db
    .select()
    .from(customerTraits)
    .where(and(eq(customerTraits.customerId, customerId), eq(customerTraits.traitKey, traitKey), liveTrait()))
    .limit(1);
  return row;
}

/** Deletes the trait; true when a live one was there (an expired one is deleted too, but was already gone). */
export async function deleteTrait(db: Db, customerId: string, traitKey: string): Promise<boolean> {
  const deleted = await db
    .delete(customerTraits)
    .where(and(eq(customerTraits.customerId, customerId), eq(customerTraits.traitKey, traitKey)))
    .returning({ expiresAt: customerTraits.expiresAt });
  return deleted.some((d) => !d.expiresAt || d.expiresAt > new Date());
}
