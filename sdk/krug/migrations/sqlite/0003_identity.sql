-- Identity data the appliance's auth needs: staff accounts, SMS sign-in codes, the consent ledger,
-- and the client address on audit records. Same numbering and meaning as postgres/0003.
-- Every table begins with tenant_id and every key includes it; timestamps are integer
-- microseconds since the Unix epoch, UTC.

-- Partners' people (cashier, manager, owner: one business each) and the tenant's operators (no
-- business). Members and superadmins are not staff rows. password_hash is an Argon2id PHC string.
CREATE TABLE staff (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (tenant_id),
    staff_id       BLOB    NOT NULL,
    login          TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('cashier', 'manager', 'owner', 'operator')),
    business_id    TEXT,
    active         INTEGER NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, staff_id),
    CONSTRAINT staff_login_key UNIQUE (tenant_id, login),
    CHECK ((role = 'operator') = (business_id IS NULL)),
    FOREIGN KEY (tenant_id, business_id) REFERENCES businesses (tenant_id, business_id)
);
CREATE INDEX staff_business ON staff (tenant_id, business_id);

-- One row per SMS code issued. The code itself is never stored: code_hash is a keyed
-- HMAC-SHA256 over the tenant, the code_id and the code. consumed_at is set when the code was
-- used to sign in or was superseded by a newer code for the same phone. Rows are kept after use:
-- they are what the per-phone rate limits count, on every replica.
CREATE TABLE sms_codes (
    tenant_id    TEXT    NOT NULL,
    code_id      BLOB    NOT NULL,
    phone_index  BLOB    NOT NULL,
    code_hash    TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    expires_at   BIGINT  NOT NULL,
    consumed_at  BIGINT,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, code_id)
);
CREATE INDEX sms_codes_phone ON sms_codes (tenant_id, phone_index, created_at);

-- The consent ledger (compliance §1.1): append-only, one row per grant of one purpose; a
-- withdrawal only sets withdrawn_at on that row. At most one active row per member and kind.
CREATE TABLE consents (
    tenant_id     TEXT   NOT NULL,
    consent_id    BLOB   NOT NULL,
    member_id     BLOB   NOT NULL,
    kind          TEXT   NOT NULL,
    text_version  TEXT   NOT NULL,
    text_sha256   TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    granted_at    BIGINT NOT NULL,
    withdrawn_at  BIGINT,
    PRIMARY KEY (tenant_id, consent_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id)
);
CREATE UNIQUE INDEX consents_active ON consents (tenant_id, member_id, kind) WHERE withdrawn_at IS NULL;
CREATE INDEX consents_member ON consents (tenant_id, member_id, granted_at);

-- Where an audited action came from (the client's IP address), when the caller knows it.
ALTER TABLE audit_log ADD COLUMN client_addr TEXT;
