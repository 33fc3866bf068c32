-- Patient search by substring (BENCHMARKS.md F4): trigram GIN indexes let
-- `name_search LIKE '%q%' OR email LIKE '%q%'` (q of 3 characters or more)
-- read only the matching rows instead of the whole table. No query change.
--
-- fastupdate = off: new patients go straight into the index instead of a
-- pending list that every search must scan until (auto)vacuum merges it;
-- with it on, 100,000 seeded patients left ~15,000 pending entries and the
-- planner chose a sequential scan. A clinic adds patients one at a time, so
-- the slower insert does not matter; predictable searches do.
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
        ON patients USING gin (name_search gin_trgm_ops) WITH (fastupdate = off);
    CREATE INDEX IF NOT EXISTS patients_email_trgm
        ON patients USING gin (email gin_trgm_ops) WITH (fastupdate = off);
EXCEPTION
    WHEN insufficient_privilege OR undefined_file THEN
        RAISE NOTICE 'patient search indexes not created (%: %); search works, but reads every patient. Run migrations/postgres/2026-11-26-000004_patient_search/up.sql as the database owner to add them.', SQLSTATE, SQLERRM;
END
$$;

-- The search's page of ids comes from this index alone (an index-only scan
-- once VACUUM has marked the pages all-visible): for a common surname the
-- walk in name order never visits the table. It leads with name_search, so it
-- also serves every other name-ordered list.
CREATE INDEX patients_search_order ON patients (name_search, id) INCLUDE (email);
DROP INDEX patients_name_search;
