ALTER TABLE "customer_profiles" ALTER COLUMN "date_of_birth" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "customer_profiles" ALTER COLUMN "address" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "customer_profiles" ALTER COLUMN "emergency_contact" SET DATA TYPE text;