ALTER TABLE "audit_log" ADD COLUMN "entry_id" uuid;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_entry_id_unique" UNIQUE("entry_id");