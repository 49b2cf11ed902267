-- Rotating refresh tokens. Each sign-in starts a family; each refresh uses its token once and
-- gets the next one in the family. Presenting a used token again revokes the whole family
-- (the token was stolen or replayed). Only a SHA-256 of the token's secret is stored.
CREATE TABLE refresh_tokens (
    tenant_id    TEXT   NOT NULL,
    token_id     BLOB NOT NULL,
    family_id    BLOB NOT NULL,
    subject      TEXT   NOT NULL,
    role         TEXT   NOT NULL,
    business_id  TEXT,
    secret_hash  TEXT   NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, token_id)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
