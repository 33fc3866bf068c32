DROP TABLE treatment_areas;
DROP TABLE treatments;
DROP TABLE patients;
DROP TABLE clinic;
