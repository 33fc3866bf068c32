DROP TABLE audit_log;
DROP TABLE password_tokens;
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE app_settings;
