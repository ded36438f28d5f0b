DROP TABLE notifications;
DROP TABLE notification_templates;
DROP TABLE login_failures;
DROP TABLE password_resets;
DROP TABLE invites;
