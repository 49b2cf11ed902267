-- Events hub (issue #7): events, registrations with tickets and a waitlist, members' event
-- proposals with tier-weighted votes, and the event budget's allocations and spending.
-- Instants are i64 microseconds (UTC); money is integer kopecks.

CREATE TABLE events (
    tenant_id               TEXT    NOT NULL,
    event_id                UUID    NOT NULL,
    business_id             TEXT    NOT NULL,
    title                   TEXT    NOT NULL,
    description             TEXT    NOT NULL,
    starts_at               BIGINT  NOT NULL,
    ends_at                 BIGINT  NOT NULL,
    capacity                BIGINT  NOT NULL,
    min_tier                TEXT,
    price                   BIGINT  NOT NULL,
    registration_opens_at   BIGINT  NOT NULL,
    registration_closes_at  BIGINT  NOT NULL,
    cancel_until            BIGINT  NOT NULL,
    status                  TEXT    NOT NULL,
    proposal_id             UUID,
    created_by              TEXT    NOT NULL,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX events_starts ON events (tenant_id, starts_at);

-- One row per registration; a cancelled one stays (history) and frees the member to register again.
CREATE TABLE event_registrations (
    tenant_id        TEXT    NOT NULL,
    registration_id  UUID    NOT NULL,
    event_id         UUID    NOT NULL,
    member_id        UUID    NOT NULL,
    status           TEXT    NOT NULL,
    ticket_code      TEXT    NOT NULL,
    price            BIGINT  NOT NULL,
    charge_entry_id  UUID,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    checked_in_at    BIGINT,
    PRIMARY KEY (tenant_id, registration_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, event_id)
);
CREATE UNIQUE INDEX event_registrations_ticket ON event_registrations (tenant_id, ticket_code);
CREATE UNIQUE INDEX event_registrations_active ON event_registrations (tenant_id, event_id, member_id)
    WHERE status <> 'cancelled' AND status <> 'dropped';
CREATE INDEX event_registrations_member ON event_registrations (tenant_id, member_id);

CREATE TABLE event_proposals (
    tenant_id         TEXT    NOT NULL,
    proposal_id       UUID    NOT NULL,
    member_id         UUID    NOT NULL,
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    estimated_cost    BIGINT  NOT NULL,
    status            TEXT    NOT NULL,
    reason            TEXT,
    voting_opens_at   BIGINT,
    voting_closes_at  BIGINT,
    event_id          UUID,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, proposal_id)
);

-- One vote per member per proposal; the weight is the member's tier weight when she (re)voted.
CREATE TABLE proposal_votes (
    tenant_id    TEXT    NOT NULL,
    proposal_id  UUID    NOT NULL,
    member_id    UUID    NOT NULL,
    support      BIGINT  NOT NULL,
    tier         TEXT    NOT NULL,
    weight       BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, proposal_id, member_id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES event_proposals (tenant_id, proposal_id)
);

-- The row an allocation locks (FOR UPDATE) so concurrent allocations cannot overdraw the budget.
CREATE TABLE budget_locks (
    tenant_id   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Allocations, releases and spending name their event; spending also says what it paid for.
ALTER TABLE budget_entries ADD COLUMN event_id UUID;
ALTER TABLE budget_entries ADD COLUMN note TEXT;
ALTER TABLE budget_entries ADD COLUMN actor TEXT;
CREATE INDEX budget_entries_event ON budget_entries (tenant_id, event_id);
