-- Offers (issue 5, part A): business-authored Rhai rules with operator approval, their immutable
-- versions, the counters the engine enforces budgets with, one activation row per offer fired on a
-- purchase, per-day statistics for analytics, and member badges.
-- Every table begins with tenant_id and every key includes it. Timestamps: microseconds, UTC.

-- One offer of one business. `running_version` is the approved version that runs (kept while a
-- newer version waits for approval); `spent` and `activations` are the budget counters — the row
-- is locked (FOR UPDATE on PostgreSQL, the writer lock on SQLite) before a scan reads them.
CREATE TABLE offers (
    tenant_id        TEXT    NOT NULL,
    offer_id         BLOB    NOT NULL,
    business_id      TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    latest_version   BIGINT  NOT NULL,
    running_version  BIGINT ,
    paused           BIGINT  NOT NULL DEFAULT 0,
    archived         BIGINT  NOT NULL DEFAULT 0,
    spent            BIGINT  NOT NULL DEFAULT 0 CHECK (spent >= 0),
    activations      BIGINT  NOT NULL DEFAULT 0,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, offer_id),
    FOREIGN KEY (tenant_id, business_id) REFERENCES businesses (tenant_id, business_id)
);
CREATE INDEX offers_business ON offers (tenant_id, business_id);

-- One version: script, rules (priority, limits, schedule) and examples are fixed once submitted.
-- status: draft | submitted | approved | rejected | withdrawn.
CREATE TABLE offer_versions (
    tenant_id     TEXT    NOT NULL,
    offer_id      BLOB    NOT NULL,
    version       BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    script        TEXT    NOT NULL,
    rules_json    TEXT    NOT NULL,
    examples_json TEXT    NOT NULL,
    template      TEXT,
    reviewed_by   TEXT,
    review_reason TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, offer_id, version),
    FOREIGN KEY (tenant_id, offer_id) REFERENCES offers (tenant_id, offer_id)
);
CREATE INDEX offer_versions_status ON offer_versions (tenant_id, status);

-- One row per offer that fired on a purchase; the credit's entry and lot let a refund reverse it.
-- coupons_json: coupon template names the script asked for (applied by the coupon module).
CREATE TABLE offer_activations (
    tenant_id     TEXT    NOT NULL,
    purchase_id   BLOB    NOT NULL,
    offer_id      BLOB    NOT NULL,
    version       BIGINT  NOT NULL,
    member_id     BLOB    NOT NULL,
    business_id   TEXT    NOT NULL,
    bonus         BIGINT  NOT NULL CHECK (bonus >= 0),
    entry_id      BLOB,
    lot_id        BLOB,
    coupons_json  TEXT    NOT NULL,
    badges_json   TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, purchase_id, offer_id),
    FOREIGN KEY (tenant_id, purchase_id) REFERENCES purchases (tenant_id, purchase_id),
    FOREIGN KEY (tenant_id, offer_id) REFERENCES offers (tenant_id, offer_id)
);
CREATE INDEX offer_activations_member ON offer_activations (tenant_id, offer_id, member_id);
CREATE INDEX offer_activations_day ON offer_activations (tenant_id, offer_id, day);

-- Per offer, version and local day: what analytics shows and what the per-day limit reads.
CREATE TABLE offer_stats (
    tenant_id    TEXT    NOT NULL,
    offer_id     BLOB    NOT NULL,
    version      BIGINT  NOT NULL,
    day          TEXT    NOT NULL,
    matched      BIGINT  NOT NULL DEFAULT 0,
    revenue      BIGINT  NOT NULL DEFAULT 0,
    activations  BIGINT  NOT NULL DEFAULT 0,
    bonus        BIGINT  NOT NULL DEFAULT 0,
    failures     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, offer_id, version, day),
    FOREIGN KEY (tenant_id, offer_id) REFERENCES offers (tenant_id, offer_id)
);

-- Badges a member holds; awarding the same code again changes nothing.
CREATE TABLE member_badges (
    tenant_id    TEXT    NOT NULL,
    member_id    BLOB    NOT NULL,
    code         TEXT    NOT NULL,
    offer_id     BLOB,
    purchase_id  BLOB,
    awarded_at   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, member_id, code),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id)
);
