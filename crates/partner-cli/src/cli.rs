//! The command line, as clap parses it.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Partner API auth toolkit: OAuth2 client-credentials tokens and the Podero users API.
#[derive(Debug, Parser)]
#[command(name = "partner", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Overrides the vendor's base URL (PODERO_BASE_URL or POA_BASE_URL). https:// only, except
    /// for loopback hosts.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) base_url: Option<String>,

    /// Overrides PODERO_ORG_ID.
    #[arg(long, global = true, value_name = "UUID")]
    pub(crate) org_id: Option<String>,

    /// Keeps no token between runs. By default tokens are kept, encrypted, in
    /// PARTNER_TOKEN_CACHE_DIR (default: $XDG_CACHE_HOME/partner or ~/.cache/partner), so
    /// repeated commands make one token request per token lifetime.
    #[arg(long, global = true)]
    pub(crate) no_token_cache: bool,

    /// Shares tokens through Redis instead of the cache directory (overrides
    /// PARTNER_REDIS_URL): redis://, rediss:// for TLS.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) redis_url: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the whole flow against an embedded emulator: tokens, caching, users CRUD, POA,
    /// recovery from a revoked token. Needs no environment.
    Demo,
    /// Serves the emulator of both vendors until interrupted, and prints the environment to
    /// point the other commands at it.
    Emulator(EmulatorArgs),
    /// Fetches a token with credentials from the environment and prints it as JSON.
    Token(TokenArgs),
    /// The Podero users of the organisation.
    Users(UsersArgs),
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Lifetime of Podero tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 36_000)]
    pub(crate) podero_token_lifetime: u64,
    /// Lifetime of POA tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1_800)]
    pub(crate) poa_token_lifetime: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Vendor {
    /// Podero (PODERO_CLIENT_ID, PODERO_CLIENT_SECRET, PODERO_BASE_URL).
    Podero,
    /// Cybrilla POA (POA_BASE_URL, POA_CLIENT_ID, POA_CLIENT_SECRET, POA_TOKEN_PATH).
    Poa,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// Which vendor's token endpoint.
    #[arg(long, value_enum)]
    pub(crate) vendor: Vendor,
    /// Also print the access token itself.
    #[arg(long)]
    pub(crate) show_secret: bool,
    /// Fetches a new token even if a valid one is kept, and keeps the new one.
    #[arg(long)]
    pub(crate) fresh: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(subcommand)]
    pub(crate) command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Lists every user (all pages) as a JSON array.
    List,
    /// Prints one user.
    Get {
        /// The user's id.
        user_id: String,
    },
    /// Creates a user and prints it.
    Create {
        /// E-mail address (unique within the organisation).
        #[arg(long)]
        email: String,
        /// Role: admin and staff get an e-mail invitation.
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
        #[command(flatten)]
        fields: UserFields,
    },
    /// Changes the given fields of a user and prints it.
    Update {
        /// The user's id.
        user_id: String,
        /// New e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// New role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        #[command(flatten)]
        fields: UserFields,
    },
    /// Deletes a user (immediately and for good).
    Delete {
        /// The user's id.
        user_id: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum RoleArg {
    /// Only their own resources.
    User,
    /// End-users and devices.
    Staff,
    /// Everything.
    Admin,
}

/// The optional user fields shared by `create` and `update`.
#[derive(Debug, Args)]
pub(crate) struct UserFields {
    /// Your own id for this customer.
    #[arg(long)]
    pub(crate) external_user_id: Option<String>,
    /// First name.
    #[arg(long)]
    pub(crate) first_name: Option<String>,
    /// Last name.
    #[arg(long)]
    pub(crate) last_name: Option<String>,
    /// Postcode (kept as text: leading zeros survive).
    #[arg(long)]
    pub(crate) zip_code: Option<String>,
    /// Town.
    #[arg(long)]
    pub(crate) town: Option<String>,
    /// Country code.
    #[arg(long)]
    pub(crate) country: Option<String>,
}
