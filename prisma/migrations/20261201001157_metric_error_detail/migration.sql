-- AlterTable
ALTER TABLE "EncryptionMetric" ADD COLUMN     "errorDetail" TEXT;
