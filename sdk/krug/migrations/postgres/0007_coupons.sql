-- Coupons and promo codes (issue 5, part B).
-- coupon_templates: what a coupon does, where and when, its limits, and who funds it (a business,
--   or the ecosystem when funded_by is NULL). `uses` counts redemptions net of restorations; the
--   template row is the lock that guards every limit of its coupons.
-- coupons: one row per code, stored in normal form (upper case, no separators) under a unique key
--   per tenant. member_id NULL = a bearer coupon or a shared promo code.
-- coupon_redemptions: one row per purchase that used a coupon, with what it did (discount, bonus
--   lot and entry for refunds) and whether a refund restored it.
CREATE TABLE coupon_templates (
    tenant_id         TEXT    NOT NULL,
    template_code     TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    value             BIGINT  NOT NULL,
    gift              TEXT,
    scope_kind        TEXT    NOT NULL,
    scope_value       TEXT,
    valid_from        BIGINT,
    valid_until       BIGINT,
    valid_days        BIGINT ,
    min_purchase      BIGINT  NOT NULL,
    per_member_limit  BIGINT ,
    global_limit      BIGINT ,
    stackable         BOOLEAN NOT NULL,
    funded_by         TEXT,
    owner_business    TEXT,
    uses              BIGINT  NOT NULL DEFAULT 0,
    revoked_at        BIGINT,
    created_by        TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, template_code)
);
CREATE INDEX coupon_templates_owner ON coupon_templates (tenant_id, owner_business);

CREATE TABLE coupons (
    tenant_id      TEXT    NOT NULL,
    code           TEXT    NOT NULL,
    template_code  TEXT    NOT NULL,
    member_id      UUID,
    source         TEXT    NOT NULL,
    batch_id       UUID,
    max_uses       BIGINT ,
    uses           BIGINT  NOT NULL DEFAULT 0,
    valid_from     BIGINT  NOT NULL,
    valid_until    BIGINT  NOT NULL,
    revoked_at     BIGINT,
    issued_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, code),
    FOREIGN KEY (tenant_id, template_code) REFERENCES coupon_templates (tenant_id, template_code)
);
CREATE INDEX coupons_member ON coupons (tenant_id, member_id);
CREATE INDEX coupons_batch ON coupons (tenant_id, batch_id);

CREATE TABLE coupon_redemptions (
    tenant_id       TEXT    NOT NULL,
    redemption_id   UUID    NOT NULL,
    code            TEXT    NOT NULL,
    template_code   TEXT    NOT NULL,
    member_id       UUID    NOT NULL,
    business_id     TEXT    NOT NULL,
    purchase_id     UUID    NOT NULL,
    discount        BIGINT  NOT NULL,
    bonus           BIGINT  NOT NULL,
    bonus_entry_id  UUID,
    bonus_lot_id    UUID,
    restored_at     BIGINT,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, redemption_id),
    CONSTRAINT coupon_redemptions_purchase_key UNIQUE (tenant_id, purchase_id),
    FOREIGN KEY (tenant_id, code) REFERENCES coupons (tenant_id, code)
);
CREATE INDEX coupon_redemptions_member ON coupon_redemptions (tenant_id, template_code, member_id);
CREATE INDEX coupon_redemptions_by_member ON coupon_redemptions (tenant_id, member_id);
