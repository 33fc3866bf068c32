-- The front desk finds a patient by phone however the number was written: "07700 900123" finds
-- "+44 7700 900123". A number's last nine digits are the same in every way of writing it (with or
-- without the country code or the trunk 0), so they are the key (store::patients::phone_key).
ALTER TABLE patients ADD COLUMN phone_search TEXT NOT NULL DEFAULT '';
UPDATE patients SET phone_search = substr(
    replace(replace(replace(replace(replace(replace(replace(coalesce(phone, ''),
        ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''), '/', ''),
    -9);
CREATE INDEX patients_phone_search ON patients (phone_search);
