-- Patient search by substring (BENCHMARKS.md F4): trigram GIN indexes let
-- `name_search LIKE '%q%' OR email LIKE '%q%'` (q of 3 characters or more)
-- read only the matching rows instead of the whole table. No query change.
--
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner, or any
-- role with CREATE on the database, may create it. A deployment whose role may
-- not, or whose server lacks the contrib package, still migrates and starts:
-- search then works as before, only slower. To add the indexes later, run
-- these statements as a role that may (they are idempotent).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX IF NOT EXISTS patients_name_search_trgm
        ON patients USING gin (name_search gin_trgm_ops);
    CREATE INDEX IF NOT EXISTS patients_email_trgm
        ON patients USING gin (email gin_trgm_ops);
EXCEPTION
    WHEN insufficient_privilege OR undefined_file THEN
        RAISE NOTICE 'patient search indexes not created (%: %); search works, but reads every patient. Run migrations/postgres/2026-11-26-000004_patient_search/up.sql as the database owner to add them.', SQLSTATE, SQLERRM;
END
$$;
