-- AlterTable: the sender's claim on a SENDING message (a fencing token). A claim whose Graph call was
-- never recorded is certainly unsent and is taken over at once after a crash. Nullable without
-- default, so adding it rewrites nothing.
ALTER TABLE "Message" ADD COLUMN "claimToken" TEXT;
