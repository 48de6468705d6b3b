-- A phone number's own Graph base URL: the service accepts only SYNTHETIC_GRAPH_API_BASE_URL (staging's fake Graph API, for the pipeline's synthetic tenant)
ALTER TABLE "PhoneNumber" ADD COLUMN "graphApiBaseUrl" TEXT;
