ALTER TABLE password_tokens ADD COLUMN nonce TEXT;
