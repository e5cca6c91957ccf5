//! `--sizes`: the sizes of the types and futures an idle server
//! connection is made of.

use pushwire::proto::bytes::BytesMut;
use pushwire::proto::Role;
use pushwire::ws::Negotiated;
use pushwire::{Message, WebSocket, WebSocketConfig};
use tokio::net::TcpStream;

use crate::client::Ws;

/// Sizes of the types and futures an idle server connection is made of.
/// (The `pushwire echo` task itself is checked by a unit test in the CLI
/// crate: it is the `WebSocket` plus a tag.)
pub fn print_sizes() {
    fn accept_size<'a, R, F>(_: &F) -> usize
    where
        F: FnOnce(TcpStream, &'a WebSocketConfig, &'a [&'a str]) -> R,
    {
        std::mem::size_of::<R>()
    }
    println!(
        "size_of WebSocket<TcpStream>          = {}",
        std::mem::size_of::<Ws>()
    );
    println!(
        "size_of TcpStream                     = {}",
        std::mem::size_of::<TcpStream>()
    );
    println!(
        "size_of WebSocketConfig               = {}",
        std::mem::size_of::<WebSocketConfig>()
    );
    println!(
        "size_of accept::<TcpStream> future    = {}",
        accept_size(&pushwire::accept::<TcpStream>)
    );
    println!(
        "size_of proto::ws::handshake::RequestHead = {}",
        std::mem::size_of::<pushwire::proto::ws::handshake::RequestHead>()
    );
    {
        let (io, _peer) = tokio::io::duplex(64);
        let config = WebSocketConfig::default();
        let mut ws = WebSocket::from_upgraded(
            io,
            Role::Server,
            &config,
            Negotiated::default(),
            BytesMut::new(),
        );
        let recv = std::mem::size_of_val(&ws.recv());
        let send = std::mem::size_of_val(&ws.send(Message::text("x")));
        println!("size_of WebSocket::recv() future      = {recv}");
        println!("size_of WebSocket::send() future      = {send}");
    }
    // Parts of the WebSocket struct (its private fields hold these).
    use pushwire::proto::ws::deflate::{Deflater, Inflater};
    macro_rules! sizes {
        ($($t:ty),* $(,)?) => {$(
            println!("size_of {:<31} = {}", stringify!($t), std::mem::size_of::<$t>());
        )*};
    }
    sizes!(
        pushwire::proto::Receiver,
        pushwire::proto::Sender,
        pushwire::proto::Limits,
        Option<Inflater>,
        Option<Deflater>,
        Message,
        pushwire::Error,
        Option<Result<Message, pushwire::Error>>,
        Negotiated,
        BytesMut,
        tokio::time::Sleep,
    );
}
