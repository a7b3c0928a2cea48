CREATE TYPE "public"."api_key_kind" AS ENUM('write', 'read', 'admin');--> statement-breakpoint
CREATE TYPE "public"."consent_type" AS ENUM('MARKETING_EMAIL', 'MARKETING_SMS', 'MARKETING_PUSH', 'DATA_PROCESSING', 'THIRD_PARTY_SHARING', 'ANALYTICS_TRACKING', 'PERSONALIZATION', 'PROFILING');--> statement-breakpoint
CREATE TYPE "public"."event_type" AS ENUM('PAGE_VIEW', 'BUTTON_CLICK', 'FORM_SUBMIT', 'QUOTE_REQUEST', 'QUOTE_VIEW', 'DOCUMENT_UPLOAD', 'DOCUMENT_VIEW', 'MESSAGE_SENT', 'MESSAGE_READ', 'PROFILE_UPDATE', 'LOGIN', 'LOGOUT', 'PURCHASE', 'POLICY_VIEW', 'CLAIM_SUBMIT', 'SEARCH', 'CUSTOM');--> statement-breakpoint
CREATE TYPE "public"."identity_type" AS ENUM('EMAIL', 'PHONE', 'DEVICE_ID', 'SESSION_ID', 'EXTERNAL_ID', 'COOKIE_ID', 'IP_ADDRESS');--> statement-breakpoint
CREATE TYPE "public"."segment_type" AS ENUM('STATIC', 'DYNAMIC', 'BEHAVIORAL', 'PREDICTIVE', 'LIFECYCLE', 'RFM');--> statement-breakpoint
CREATE TYPE "public"."trait_type" AS ENUM('DEMOGRAPHIC', 'BEHAVIORAL', 'COMPUTED', 'TRANSACTIONAL', 'PREFERENCE', 'ENGAGEMENT', 'RISK', 'LIFECYCLE');--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" "api_key_kind" NOT NULL,
	"name" text,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "customer_consent_history" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"consent_type" "consent_type" NOT NULL,
	"granted" boolean NOT NULL,
	"previous_granted" boolean,
	"source" text,
	"ip_address" text,
	"actor" text,
	"expires_at" timestamp with time zone,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_consents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"consent_type" "consent_type" NOT NULL,
	"granted" boolean NOT NULL,
	"source" text,
	"ip_address" text,
	"granted_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_documents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"name" text NOT NULL,
	"document_type" text,
	"url" text,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_engagement_scores" (
	"customer_id" uuid PRIMARY KEY NOT NULL,
	"overall_score" double precision NOT NULL,
	"email_score" double precision NOT NULL,
	"web_score" double precision NOT NULL,
	"portal_score" double precision NOT NULL,
	"recency_score" double precision NOT NULL,
	"frequency_score" double precision NOT NULL,
	"monetary_score" double precision NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "customer_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"message_id" text NOT NULL,
	"customer_id" uuid,
	"anonymous_id" text,
	"user_id" text,
	"session_id" text,
	"call_type" text NOT NULL,
	"event_type" "event_type" NOT NULL,
	"event_name" text NOT NULL,
	"event_category" text,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"original_timestamp" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"received_at" timestamp with time zone NOT NULL,
	"device_type" text,
	"browser" text,
	"os" text,
	"ip_address" text,
	"user_agent" text,
	"country" text,
	"region" text,
	"city" text,
	"metadata" jsonb
);
--> statement-breakpoint
CREATE TABLE "customer_identities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"identity_type" "identity_type" NOT NULL,
	"identity_value" text NOT NULL,
	"is_primary" boolean DEFAULT false NOT NULL,
	"verified_at" timestamp with time zone,
	"provider" text,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_journey_steps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"step_type" text NOT NULL,
	"step_name" text NOT NULL,
	"event_id" bigint,
	"event_message_id" text,
	"occurred_at" timestamp with time zone NOT NULL,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_lifetime_values" (
	"customer_id" uuid PRIMARY KEY NOT NULL,
	"current_value" double precision NOT NULL,
	"predicted_value" double precision NOT NULL,
	"total_purchases" integer NOT NULL,
	"average_purchase_value" double precision NOT NULL,
	"purchase_frequency" double precision NOT NULL,
	"customer_tenure" integer NOT NULL,
	"churn_probability" double precision NOT NULL,
	"model" jsonb,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_merges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"source_customer_id" uuid NOT NULL,
	"target_customer_id" uuid NOT NULL,
	"strategy" text NOT NULL,
	"actor" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"direction" text NOT NULL,
	"subject" text,
	"body" text,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_profiles" (
	"customer_id" uuid PRIMARY KEY NOT NULL,
	"date_of_birth" date,
	"preferred_contact" text,
	"address" jsonb,
	"emergency_contact" jsonb,
	"preferences" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_segment_memberships" (
	"segment_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"source" text DEFAULT 'manual' NOT NULL,
	"metadata" jsonb,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customer_segment_memberships_segment_id_customer_id_pk" PRIMARY KEY("segment_id","customer_id")
);
--> statement-breakpoint
CREATE TABLE "customer_segments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"segment_type" "segment_type" NOT NULL,
	"rules" jsonb,
	"is_active" boolean DEFAULT true NOT NULL,
	"member_count" integer DEFAULT 0 NOT NULL,
	"last_evaluated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customer_segments_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "customer_traits" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"trait_key" text NOT NULL,
	"trait_value" jsonb,
	"trait_type" "trait_type" NOT NULL,
	"source" text,
	"computed_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text,
	"phone_number" text,
	"first_name" text,
	"last_name" text,
	"is_verified" boolean DEFAULT false NOT NULL,
	"last_login_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	"merged_into_id" uuid,
	"merged_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customer_consent_history" ADD CONSTRAINT "customer_consent_history_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_consents" ADD CONSTRAINT "customer_consents_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_documents" ADD CONSTRAINT "customer_documents_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_engagement_scores" ADD CONSTRAINT "customer_engagement_scores_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_identities" ADD CONSTRAINT "customer_identities_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_journey_steps" ADD CONSTRAINT "customer_journey_steps_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_lifetime_values" ADD CONSTRAINT "customer_lifetime_values_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_messages" ADD CONSTRAINT "customer_messages_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_profiles" ADD CONSTRAINT "customer_profiles_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_segment_memberships" ADD CONSTRAINT "customer_segment_memberships_segment_id_customer_segments_id_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."customer_segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_segment_memberships" ADD CONSTRAINT "customer_segment_memberships_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_traits" ADD CONSTRAINT "customer_traits_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "customer_consent_history_customer_idx" ON "customer_consent_history" USING btree ("customer_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_consents_customer_type_key" ON "customer_consents" USING btree ("customer_id","consent_type");--> statement-breakpoint
CREATE INDEX "customer_documents_customer_idx" ON "customer_documents" USING btree ("customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_events_message_id_key" ON "customer_events" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "customer_events_anonymous_idx" ON "customer_events" USING btree ("anonymous_id","timestamp") WHERE "customer_events"."anonymous_id" is not null;--> statement-breakpoint
CREATE INDEX "customer_events_user_idx" ON "customer_events" USING btree ("user_id","timestamp") WHERE "customer_events"."user_id" is not null;--> statement-breakpoint
CREATE INDEX "customer_events_customer_idx" ON "customer_events" USING btree ("customer_id","timestamp") WHERE "customer_events"."customer_id" is not null;--> statement-breakpoint
CREATE INDEX "customer_events_type_time_idx" ON "customer_events" USING btree ("event_type","timestamp");--> statement-breakpoint
CREATE INDEX "customer_events_time_idx" ON "customer_events" USING btree ("timestamp");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_identities_type_value_key" ON "customer_identities" USING btree ("identity_type","identity_value");--> statement-breakpoint
CREATE INDEX "customer_identities_customer_idx" ON "customer_identities" USING btree ("customer_id","identity_type");--> statement-breakpoint
CREATE INDEX "customer_journey_steps_customer_idx" ON "customer_journey_steps" USING btree ("customer_id","occurred_at");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_journey_steps_event_key" ON "customer_journey_steps" USING btree ("customer_id","step_type","event_message_id");--> statement-breakpoint
CREATE INDEX "customer_merges_target_idx" ON "customer_merges" USING btree ("target_customer_id");--> statement-breakpoint
CREATE INDEX "customer_messages_customer_idx" ON "customer_messages" USING btree ("customer_id","created_at");--> statement-breakpoint
CREATE INDEX "customer_segment_memberships_customer_idx" ON "customer_segment_memberships" USING btree ("customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_traits_customer_key" ON "customer_traits" USING btree ("customer_id","trait_key");--> statement-breakpoint
CREATE INDEX "customer_traits_expires_idx" ON "customer_traits" USING btree ("expires_at") WHERE "customer_traits"."expires_at" is not null;--> statement-breakpoint
CREATE INDEX "customers_merged_into_idx" ON "customers" USING btree ("merged_into_id");