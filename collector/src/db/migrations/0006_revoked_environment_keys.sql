CREATE TABLE "revoked_environment_keys" (
	"key_hash" text PRIMARY KEY NOT NULL,
	"revoked_at" timestamp with time zone DEFAULT now() NOT NULL
);
