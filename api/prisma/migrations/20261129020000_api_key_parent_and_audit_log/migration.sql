-- AlterTable: the key that minted a key (null for keys issued by the platform admin and for older keys).
-- Nullable without default, so adding it rewrites nothing. No index: lineage is walked per organization.
ALTER TABLE "ApiKey" ADD COLUMN "parentId" TEXT;

-- CreateTable: who did what, when
CREATE TABLE "AuditLog" (
    "id" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "organizationId" TEXT,
    "targetId" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AuditLog_at_id_idx" ON "AuditLog"("at", "id");

-- CreateIndex
CREATE INDEX "AuditLog_organizationId_at_id_idx" ON "AuditLog"("organizationId", "at", "id");
