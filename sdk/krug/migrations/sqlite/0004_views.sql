-- Partner views (DESIGN §2, business admin panel): a business's clients (grouped by member) and its
-- purchases (newest first, by purchase time) are read by business. The foundation indexes serve
-- members and receipt ids, not these, so without them each page would scan the tenant's purchases.
CREATE INDEX purchases_business_member ON purchases (tenant_id, business_id, member_id);
CREATE INDEX purchases_business_at ON purchases (tenant_id, business_id, purchased_at, purchase_id);
