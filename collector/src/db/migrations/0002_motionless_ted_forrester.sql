CREATE TYPE "public"."regulation_type" AS ENUM('SUPPRESS', 'SUPPRESS_WITH_DELETE', 'DELETE_ONLY', 'UNSUPPRESS');--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"key_id" text NOT NULL,
	"action" text NOT NULL,
	"customer_id" uuid,
	"method" text NOT NULL,
	"endpoint" text NOT NULL,
	"status" integer NOT NULL,
	"outcome" text NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "regulations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"regulation_type" "regulation_type" NOT NULL,
	"customer_id" uuid,
	"identity_type" "identity_type",
	"identity_hash" text,
	"status" text NOT NULL,
	"deleted" jsonb,
	"actor" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "retention_policies" (
	"event_type" "event_type" PRIMARY KEY NOT NULL,
	"days" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"identity_type" "identity_type" NOT NULL,
	"identity_hash" text NOT NULL,
	"regulation_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_identity_type_identity_hash_pk" PRIMARY KEY("identity_type","identity_hash")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "verification_secret" text;--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_customer_idx" ON "audit_log" USING btree ("customer_id","at");--> statement-breakpoint
CREATE INDEX "audit_log_key_idx" ON "audit_log" USING btree ("key_id","at");--> statement-breakpoint
CREATE INDEX "regulations_customer_idx" ON "regulations" USING btree ("customer_id");