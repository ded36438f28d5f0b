DROP TABLE token_introspectors;
