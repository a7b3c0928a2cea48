import type { LifetimeValue } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client';
import { customerLifetimeValues } from '../db/schema';
import { eventsOfCustomer } from '../events/customer-events';
import {
  type BgNbdParams,
  CDNOW_BG_NBD,
  conditionalExpectedPurchases,
  fitBgNbd,
  probabilityAlive,
  type RfmSummary,
} from './bg-nbd';
import { eventOwner } from './event-owner';
import { CDNOW_GAMMA_GAMMA, expectedSpend, fitGammaGamma, type GammaGammaParams } from './gamma-gamma';
import { purchaseAmount } from './purchase-amount';
import { toDate, toNumber } from './sql-values';

const DAY = 86_400_000;
const WEEK = 7 * DAY;
const WEEKS_PER_MONTH = 52.1775 / 12;

/**
 * Lifetime value settings: predictions cover 36 months discounted at 10% a year (monthly), the
 * population is refitted at most hourly on a random sample of at most 5,000 buyers, and the CDNOW
 * priors stand in below 50 buyers (BG/NBD) or 30 repeat buyers (Gamma-Gamma).
 */
export const LTV = {
  horizonMonths: 36,
  annualDiscountRate: 0.1,
  refitAfterMs: 60 * 60 * 1000,
  sampleSize: 5_000,
  minBuyersToFit: 50,
  minRepeatBuyersToFit: 30,
} as const;

export interface PopulationModel {
  bgNbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  source: { bgNbd: 'fit' | 'prior'; gammaGamma: 'fit' | 'prior' };
  buyers: number;
  repeatBuyers: number;
  logLikelihood: number | null;
  fittedAt: string;
}

interface BuyerRow {
  x: number;
  tx: number;
  T: number;
  n: number;
  m: number;
}

/** Fits BG/NBD and Gamma-Gamma on a random sample of buyers: frequency, recency and age in weeks. */
export async function fitPopulation(db: Db, now: Date): Promise<PopulationModel> {
  const nowIso = now.toISOString();
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`with purchases as (
        select ${eventOwner} as owner, e.timestamp as ts, ${purchaseAmount(sql.raw('e.properties'))} as amount
        from customer_events e
        where e.event_type = 'PURCHASE' and e.timestamp <= ${nowIso}::timestamptz
      ), buyers as (
        select owner,
          count(distinct (ts at time zone 'UTC')::date) - 1 as x,
          extract(epoch from max(ts) - min(ts)) / 604800 as tx,
          extract(epoch from ${nowIso}::timestamptz - min(ts)) / 604800 as t_age,
          count(amount) as n, avg(amount) as m
        from purchases where owner is not null group by owner
      )
      select x, tx, t_age, n, m from buyers order by random() limit ${LTV.sampleSize}`,
  );
  const buyers: BuyerRow[] = rows.map((r) => ({
    x: toNumber(r.x),
    tx: toNumber(r.tx),
    T: toNumber(r.t_age),
    n: toNumber(r.n),
    m: toNumber(r.m),
  }));
  const summaries: RfmSummary[] = buyers.filter((b) => b.T > 0).map(({ x, tx, T }) => ({ x, tx, T }));
  const repeat = buyers.filter((b) => b.n >= 2 && b.m > 0).map((b) => ({ x: b.n, m: b.m }));

  let bgNbd = CDNOW_BG_NBD;
  let bgSource: 'fit' | 'prior' = 'prior';
  let logLikelihood: number | null = null;
  if (summaries.length >= LTV.minBuyersToFit && summaries.some((s) => s.x > 0)) {
    const fit = fitBgNbd(summaries);
    if (Object.values(fit.params).every(Number.isFinite) && fit.params.a + fit.params.b > 1) {
      bgNbd = fit.params;
      bgSource = 'fit';
      logLikelihood = fit.logLikelihood;
    }
  }
  let gammaGamma = CDNOW_GAMMA_GAMMA;
  let ggSource: 'fit' | 'prior' = 'prior';
  if (repeat.length >= LTV.minRepeatBuyersToFit) {
    const fit = fitGammaGamma(repeat);
    if (Object.values(fit.params).every(Number.isFinite) && fit.params.q > 1) {
      gammaGamma = fit.params;
      ggSource = 'fit';
    }
  }
  return {
    bgNbd,
    gammaGamma,
    source: { bgNbd: bgSource, gammaGamma: ggSource },
    buyers: buyers.length,
    repeatBuyers: repeat.length,
    logLikelihood,
    fittedAt: nowIso,
  };
}

/** Keeps one fitted population model per app, refitted when older than `LTV.refitAfterMs`. */
export class PopulationModelCache {
  #model: { value: PopulationModel; at: number } | null = null;
  #pending: Promise<PopulationModel> | null = null;

  async get(db: Db, now: Date): Promise<PopulationModel> {
    if (this.#model && now.getTime() - this.#model.at < LTV.refitAfterMs) return this.#model.value;
    this.#pending ??= fitPopulation(db, now)
      .then((value) => {
        this.#model = { value, at: now.getTime() };
        return value;
      })
      .finally(() => {
        this.#pending = null;
      });
    return this.#pending;
  }

  /** Forgets the fit, so the next computation refits (after bulk changes, and in tests). */
  invalidate() {
    this.#model = null;
  }
}

export interface PurchaseHistory {
  firstSeenAt: Date | null;
  purchases: number;
  revenue: number;
  purchaseDays: number;
  firstPurchaseAt: Date | null;
  lastPurchaseAt: Date | null;
}

export async function purchaseHistory(db: Db, customerId: string, now: Date): Promise<PurchaseHistory> {
  const [row] = await queryRows<Record<string, unknown>>(
    db,
    sql`select min(timestamp) as first_seen,
        count(*) filter (where event_type = 'PURCHASE') as purchases,
        coalesce(sum(${purchaseAmount()}) filter (where event_type = 'PURCHASE'), 0) as revenue,
        count(distinct (timestamp at time zone 'UTC')::date) filter (where event_type = 'PURCHASE') as purchase_days,
        min(timestamp) filter (where event_type = 'PURCHASE') as first_purchase,
        max(timestamp) filter (where event_type = 'PURCHASE') as last_purchase
      from customer_events
      where ${eventsOfCustomer(customerId)} and timestamp <= ${now.toISOString()}::timestamptz`,
  );
  return {
    firstSeenAt: toDate(row?.first_seen),
    purchases: toNumber(row?.purchases),
    revenue: toNumber(row?.revenue),
    purchaseDays: toNumber(row?.purchase_days),
    firstPurchaseAt: toDate(row?.first_purchase),
    lastPurchaseAt: toDate(row?.last_purchase),
  };
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The lifetime value from a purchase history and a population model. The customer's clock starts at
 * the first purchase (or, for a customer who has not bought, at the first event): x = purchase days
 * after the first, t_x and T in weeks. Predicted value = current value + the discounted sum over the
 * horizon of each month's expected purchases (BG/NBD) × expected spend per purchase (Gamma-Gamma).
 * Churn probability = 1 − P(alive); BG/NBD holds a customer without a repeat purchase alive, so those
 * read 0 and their predicted value carries the uncertainty instead.
 */
export function lifetimeValueFrom(
  history: PurchaseHistory,
  customerCreatedAt: Date,
  model: PopulationModel,
  now: Date,
): Omit<LifetimeValue, 'computedAt'> {
  const start =
    history.firstSeenAt && history.firstSeenAt < customerCreatedAt ? history.firstSeenAt : customerCreatedAt;
  const tenureDays = Math.max(0, Math.floor((now.getTime() - start.getTime()) / DAY));
  const origin = history.firstPurchaseAt ?? start;
  const summary: RfmSummary = {
    x: Math.max(0, history.purchaseDays - 1),
    tx:
      history.firstPurchaseAt && history.lastPurchaseAt
        ? (history.lastPurchaseAt.getTime() - origin.getTime()) / WEEK
        : 0,
    T: Math.max(0, (now.getTime() - origin.getTime()) / WEEK),
  };
  const average = history.purchases ? history.revenue / history.purchases : 0;
  const spend = expectedSpend(model.gammaGamma, { x: history.purchases, m: Math.max(average, 0) });
  const monthlyDiscount = (1 + LTV.annualDiscountRate) ** (1 / 12) - 1;
  let future = 0;
  let previous = 0;
  for (let month = 1; month <= LTV.horizonMonths; month++) {
    const expected = conditionalExpectedPurchases(model.bgNbd, month * WEEKS_PER_MONTH, summary);
    future += ((expected - previous) * spend) / (1 + monthlyDiscount) ** month;
    previous = expected;
  }
  const months = Math.max(1, tenureDays / (365.25 / 12));
  const alive = probabilityAlive(model.bgNbd, summary);
  return {
    currentValue: round(history.revenue),
    predictedValue: round(history.revenue + future),
    totalPurchases: history.purchases,
    averagePurchaseValue: round(average),
    purchaseFrequency: round(history.purchases / months, 4),
    customerTenure: tenureDays,
    churnProbability: round(1 - alive, 4),
    model: {
      name: 'BG/NBD + Gamma-Gamma',
      timeUnit: 'week',
      horizonMonths: LTV.horizonMonths,
      annualDiscountRate: LTV.annualDiscountRate,
      bgNbd: { ...model.bgNbd, source: model.source.bgNbd, logLikelihood: model.logLikelihood },
      gammaGamma: { ...model.gammaGamma, source: model.source.gammaGamma },
      population: { buyers: model.buyers, repeatBuyers: model.repeatBuyers, fittedAt: model.fittedAt },
      customer: {
        ...summary,
        expectedSpendPerPurchase: round(spend),
        expectedPurchases12Months: round(conditionalExpectedPurchases(model.bgNbd, 52.1775, summary), 4),
      },
    },
  };
}

/** Computes and stores a customer's lifetime value. */
export async function computeLifetimeValue(
  db: Db,
  models: PopulationModelCache,
  customer: { id: string; createdAt: Date },
  now = new Date(),
): Promise<LifetimeValue> {
  const [history, model] = await Promise.all([purchaseHistory(db, customer.id, now), models.get(db, now)]);
  const value = lifetimeValueFrom(history, customer.createdAt, model, now);
  const { model: modelJson, ...figures } = value;
  const row = { ...figures, model: modelJson ?? null, computedAt: now };
  await db
    .insert(customerLifetimeValues)
    .values({ customerId: customer.id, ...row })
    .onConflictDoUpdate({ target: customerLifetimeValues.customerId, set: row });
  return { ...value, computedAt: now.toISOString() };
}

export function toLifetimeValueResponse(row: typeof customerLifetimeValues.$inferSelect): LifetimeValue {
  const { customerId: _, computedAt, ...rest } = row;
  return { ...rest, model: rest.model ?? null, computedAt: computedAt.toISOString() };
}
