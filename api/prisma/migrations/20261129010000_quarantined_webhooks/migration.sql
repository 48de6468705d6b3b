-- CreateTable: signed Meta webhooks whose bytes cannot be stored as jsonb (a \u0000 escape, a lone
-- surrogate, nesting PostgreSQL refuses), kept as received with the reason so that Meta can be answered
-- 200 and the delivery inspected by hand, one row per distinct body.
CREATE TABLE "QuarantinedWebhook" (
    "id" TEXT NOT NULL,
    "bodySha256" TEXT NOT NULL,
    "raw" BYTEA NOT NULL,
    "reason" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QuarantinedWebhook_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "QuarantinedWebhook_bodySha256_key" ON "QuarantinedWebhook"("bodySha256");

-- CreateIndex
CREATE INDEX "QuarantinedWebhook_receivedAt_idx" ON "QuarantinedWebhook"("receivedAt");
