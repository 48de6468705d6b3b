-- The RDS parameter group preloads pg_stat_statements, but its view exists only once the extension is
-- created in the database: the slow-query queries of the operations guide need it.
-- Creating it needs no preload (only querying the view does), so this applies on every server.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
