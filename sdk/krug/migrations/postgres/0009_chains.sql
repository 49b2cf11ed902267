-- Cross-promo chains between partners (issue 6).
-- chains: the definition (JSON of chain::ChainDefinition, validated before it is stored), its
--   status (draft → active ⇄ paused) and schedule. The chain row is locked when its status changes.
-- chain_partners: one row per participating business; approved_at is set by that business's
--   owner approving its own steps and the rewards it funds. A chain starts only when all are set.
-- chain_progress: one row per member and chain: the current run, cycle, expected step, chosen
--   fan-out branch, completion and deadline (lapse is computed from the clock, no job).
-- chain_steps: one row per step made (run, cycle, step unique), with the purchase that made it,
--   an ordinal per member and chain (the latest is the one a refund may roll back), and the
--   progress before it (JSON) to roll back to.
-- chain_rewards: one row per reward paid; the primary key (run, cycle, slot) is what makes a
--   reward paid at most once per step per cycle, even under concurrent scans. funded_by is the
--   partner charged in clearing.
CREATE TABLE chains (
    tenant_id    TEXT   NOT NULL,
    chain_id     UUID   NOT NULL,
    name         TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    definition   TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, chain_id)
);
CREATE INDEX chains_status ON chains (tenant_id, status);

CREATE TABLE chain_partners (
    tenant_id    TEXT   NOT NULL,
    chain_id     UUID   NOT NULL,
    business_id  TEXT   NOT NULL,
    approved_by  TEXT,
    approved_at  BIGINT,
    PRIMARY KEY (tenant_id, chain_id, business_id),
    FOREIGN KEY (tenant_id, chain_id) REFERENCES chains (tenant_id, chain_id)
);
CREATE INDEX chain_partners_business ON chain_partners (tenant_id, business_id);

CREATE TABLE chain_progress (
    tenant_id    TEXT   NOT NULL,
    chain_id     UUID   NOT NULL,
    member_id    UUID   NOT NULL,
    progress     TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, chain_id, member_id),
    FOREIGN KEY (tenant_id, chain_id) REFERENCES chains (tenant_id, chain_id)
);
CREATE INDEX chain_progress_member ON chain_progress (tenant_id, member_id);

CREATE TABLE chain_steps (
    tenant_id    TEXT   NOT NULL,
    chain_id     UUID   NOT NULL,
    member_id    UUID   NOT NULL,
    run          BIGINT NOT NULL,
    cycle        BIGINT NOT NULL,
    step         BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    purchase_id  UUID   NOT NULL,
    business_id  TEXT   NOT NULL,
    amount       BIGINT NOT NULL,
    prev_progress TEXT,
    made_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, chain_id, member_id, run, cycle, step),
    FOREIGN KEY (tenant_id, chain_id) REFERENCES chains (tenant_id, chain_id)
);
CREATE INDEX chain_steps_purchase ON chain_steps (tenant_id, purchase_id);

CREATE TABLE chain_rewards (
    tenant_id    TEXT   NOT NULL,
    chain_id     UUID   NOT NULL,
    member_id    UUID   NOT NULL,
    run          BIGINT NOT NULL,
    cycle        BIGINT NOT NULL,
    slot         BIGINT NOT NULL,
    purchase_id  UUID,
    funded_by    TEXT   NOT NULL,
    bonus        BIGINT NOT NULL,
    entry_id     UUID,
    lot_id       UUID,
    coupon_code  TEXT,
    paid_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, chain_id, member_id, run, cycle, slot),
    FOREIGN KEY (tenant_id, chain_id) REFERENCES chains (tenant_id, chain_id)
);
CREATE INDEX chain_rewards_purchase ON chain_rewards (tenant_id, purchase_id);
CREATE INDEX chain_rewards_member ON chain_rewards (tenant_id, member_id);
