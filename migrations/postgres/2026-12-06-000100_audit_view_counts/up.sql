-- How many times an entry happened. 1 for every entry but one kind: a patient's views of their
-- sheet link are one entry per link, address and hour, counted here (issue #24: a row per view
-- made a 304 cost as much as the whole sheet).
ALTER TABLE audit_log ADD COLUMN times BIGINT NOT NULL DEFAULT 1;
