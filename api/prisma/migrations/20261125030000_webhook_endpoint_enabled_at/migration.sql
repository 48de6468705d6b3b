-- AlterTable: an endpoint receives the events that occur while it is enabled.
-- Existing endpoints count as enabled since they were created.
ALTER TABLE "WebhookEndpoint" ADD COLUMN "enabledAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
UPDATE "WebhookEndpoint" SET "enabledAt" = "createdAt";
