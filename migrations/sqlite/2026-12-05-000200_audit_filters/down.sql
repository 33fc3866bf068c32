DROP INDEX audit_log_subject;
DROP INDEX audit_log_action;
