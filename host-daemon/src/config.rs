//! Configuration: the TOML contract and the notes' flat JSON.
