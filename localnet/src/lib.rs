//! localnet: an embedded local Internet Computer (see issue 3). Placeholder until the core lands.
