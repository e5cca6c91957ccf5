//! The `pushwire` command.

mod broadcast;
mod connect;
mod deflate_args;
mod echo;
mod hub_config;
mod open_files;
mod publish;
mod serve;
mod subscribe;
mod token;

use clap::{Parser, Subcommand};

/// The binary's allocator. tokio allocates each task and each socket's
/// readiness state aligned to 128 bytes; glibc's `memalign` leaves
/// padding around such blocks that it rarely reuses, while jemalloc's
/// size classes are aligned as they are. bench/idle-memory.sh, 10,000
/// idle connections: 1,064 B each with glibc, 683 B with jemalloc; with
/// deflate after one message, within 2% of glibc.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Real-time web for Rust: WebSocket servers and clients.
#[derive(Parser)]
#[command(name = "pushwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WebSocket echo server on every path (text and binary, deflate
    /// offered); with --broadcast, every message goes to every connection.
    Echo(echo::EchoArgs),
    /// Connect to a ws:// or wss:// URL: send stdin lines, print what arrives.
    Connect(connect::ConnectArgs),
    /// Serve HTTP/1.1 and HTTP/2 (cleartext or TLS) on one port: a page at /,
    /// WebSocket echo at /echo (WebSocket only: a plain request gets 426),
    /// /healthz, /stats and /metrics.
    Serve(serve::ServeArgs),
    /// Mint an HS256 token for development: a connection token, or with
    /// --channel a subscription token, signed with --secret or the
    /// client.token.hmac_secret_key of --config.
    Token(token::TokenArgs),
    /// Subscribe to hub channels: print each publication as a JSON line
    /// ({"channel","offset","data"}), reconnecting and recovering what was
    /// missed (stderr says when recovery failed).
    Subscribe(subscribe::SubscribeArgs),
    /// Publish to a hub channel through the server API (--api-key or
    /// PUSHWIRE_HTTP_API_KEY); prints the API's result.
    Publish(publish::PublishArgs),
    /// Print a hub channel's history through the server API, one JSON line
    /// per publication, oldest first.
    History(publish::HistoryArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Before any other thread: taking them edits the environment.
    let inherited = match &cli.command {
        Command::Serve(_) => match serve::Inherited::from_env() {
            Ok(inherited) => Some(inherited),
            Err(e) => {
                eprintln!("pushwire: the sockets passed in LISTEN_FDS: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pushwire: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Echo(args) => echo::run(args).await,
            Command::Connect(args) => connect::run(args).await,
            Command::Serve(args) => serve::run(args, inherited.unwrap_or_default()).await,
            Command::Token(args) => token::run(args),
            Command::Subscribe(args) => subscribe::run(args).await,
            Command::Publish(args) => publish::publish(args).await,
            Command::History(args) => publish::history(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushwire: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
