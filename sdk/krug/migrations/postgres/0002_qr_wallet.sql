-- QR wallet: each member's TOTP secret (sealed with the tenant's key ring, never in clear) and
-- the codes already consumed, so a code buys once (DESIGN §3 "QR wallet").
-- Every table begins with tenant_id and every key includes it. Timestamps: microseconds, UTC.

-- One secret per member; provisioning again replaces it (old codes stop verifying).
CREATE TABLE qr_secrets (
    tenant_id   TEXT   NOT NULL,
    member_id   UUID   NOT NULL,
    secret_ct   BYTEA  NOT NULL,
    secret_key  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id)
);

-- One row per consumed code: the key refuses a second use of the same step's code. The row is
-- written before the purchase (claiming the code) and then points at it.
CREATE TABLE qr_uses (
    tenant_id    TEXT   NOT NULL,
    member_id    UUID   NOT NULL,
    step         BIGINT NOT NULL,
    purchase_id  UUID,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, step),
    FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, member_id),
    FOREIGN KEY (tenant_id, purchase_id) REFERENCES purchases (tenant_id, purchase_id)
);
