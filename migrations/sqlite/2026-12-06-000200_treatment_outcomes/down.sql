DROP INDEX checkins_acknowledged;
DROP TABLE treatment_outcome_add_ons;
DROP TABLE treatment_outcome_areas;
DROP TABLE treatment_outcomes;
