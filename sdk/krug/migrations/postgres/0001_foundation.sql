-- Foundation schema: tenants, businesses, members (personal data encrypted), bonus ledger,
-- purchases, the event-budget ledger, idempotency records and the audit log.
-- Every table begins with tenant_id and every key includes it (DESIGN §2).
-- Timestamps are integer microseconds since the Unix epoch, UTC, on both backends.

CREATE TABLE tenants (
    tenant_id    TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    config_toml  TEXT    NOT NULL,
    config_hash  TEXT    NOT NULL,
    suspended    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE businesses (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (tenant_id),
    business_id  TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    medical      BOOLEAN NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (tenant_id, business_id)
);

CREATE TABLE members (
    tenant_id     TEXT   NOT NULL REFERENCES tenants (tenant_id),
    member_id     UUID   NOT NULL,
    phone_index   BYTEA  NOT NULL,
    phone_ct      BYTEA  NOT NULL,
    phone_key     TEXT   NOT NULL,
    name_ct       BYTEA,
    name_key      TEXT,
    birthday_ct   BYTEA,
    birthday_key  TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    CONSTRAINT members_phone_index_key UNIQUE (tenant_id, phone_index)
);

-- One bonus account per member: the ledger total, debt, and the held status tier.
CREATE TABLE accounts (
    tenant_id     TEXT   NOT NULL,
    member_id     UUID   NOT NULL,
    balance       BIGINT NOT NULL DEFAULT 0,
    debt          BIGINT NOT NULL DEFAULT 0 CHECK (debt >= 0),
    earned_tier   TEXT,
    below_since   BIGINT,
    invited_tier  TEXT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id)
);

CREATE TABLE purchases (
    tenant_id            TEXT   NOT NULL,
    purchase_id          UUID   NOT NULL,
    member_id            UUID   NOT NULL,
    business_id          TEXT   NOT NULL,
    receipt_id           TEXT   NOT NULL,
    category             TEXT   NOT NULL,
    amount               BIGINT NOT NULL CHECK (amount > 0),
    redeemed             BIGINT NOT NULL CHECK (redeemed >= 0),
    accrued              BIGINT NOT NULL CHECK (accrued >= 0),
    refunded             BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    contribution         BIGINT NOT NULL DEFAULT 0 CHECK (contribution >= 0),
    accrual_entry_id     UUID,
    accrual_lot_id       UUID,
    redemption_entry_id  UUID,
    purchased_at         BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, purchase_id),
    CONSTRAINT purchases_receipt_key UNIQUE (tenant_id, business_id, receipt_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id),
    FOREIGN KEY (tenant_id, business_id) REFERENCES businesses (tenant_id, business_id)
);
CREATE INDEX purchases_member_at ON purchases (tenant_id, member_id, purchased_at);

CREATE TABLE lots (
    tenant_id           TEXT   NOT NULL,
    lot_id              UUID   NOT NULL,
    member_id           UUID   NOT NULL,
    issuer_business_id  TEXT,
    source              TEXT   NOT NULL,
    purchase_id         UUID,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    remaining           BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    available_at        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lot_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id)
);
CREATE INDEX lots_open ON lots (tenant_id, member_id) WHERE remaining > 0;
CREATE INDEX lots_lapsing ON lots (tenant_id, expires_at) WHERE remaining > 0;

CREATE TABLE entries (
    tenant_id          TEXT   NOT NULL,
    entry_id           UUID   NOT NULL,
    member_id          UUID   NOT NULL,
    kind               TEXT   NOT NULL,
    amount             BIGINT NOT NULL,
    source             TEXT   NOT NULL,
    business_id        TEXT,
    purchase_id        UUID,
    reverses_entry_id  UUID,
    debt_delta         BIGINT NOT NULL DEFAULT 0,
    reason             TEXT,
    actor              TEXT,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, entry_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id),
    FOREIGN KEY (tenant_id, reverses_entry_id) REFERENCES entries (tenant_id, entry_id)
);
CREATE INDEX entries_member ON entries (tenant_id, member_id, created_at);

CREATE TABLE lot_moves (
    tenant_id             TEXT    NOT NULL,
    entry_id              UUID    NOT NULL,
    seq                   INTEGER NOT NULL,
    lot_id                UUID    NOT NULL,
    issuer_business_id    TEXT,
    redeemer_business_id  TEXT,
    amount                BIGINT  NOT NULL,
    created_at            BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, entry_id, seq),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES entries (tenant_id, entry_id),
    FOREIGN KEY (tenant_id, lot_id) REFERENCES lots (tenant_id, lot_id)
);
CREATE INDEX lot_moves_settlement ON lot_moves (tenant_id, created_at) WHERE redeemer_business_id IS NOT NULL;
CREATE INDEX lot_moves_lot ON lot_moves (tenant_id, lot_id);

-- The event budget's own ledger: contributions (and their reversals) per business.
CREATE TABLE budget_entries (
    tenant_id    TEXT   NOT NULL,
    entry_id     UUID   NOT NULL,
    kind         TEXT   NOT NULL,
    business_id  TEXT,
    purchase_id  UUID,
    amount       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, entry_id)
);
CREATE INDEX budget_entries_at ON budget_entries (tenant_id, created_at);

-- One row per applied money-moving command: replaying its key returns the stored result.
CREATE TABLE idempotency (
    tenant_id     TEXT   NOT NULL,
    scope         TEXT   NOT NULL,
    key           TEXT   NOT NULL,
    request_hash  TEXT   NOT NULL,
    response      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);

CREATE TABLE audit_log (
    tenant_id   TEXT   NOT NULL,
    audit_id    UUID   NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target      TEXT   NOT NULL,
    detail      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, audit_id)
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, created_at);
