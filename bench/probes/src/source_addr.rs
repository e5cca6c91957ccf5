//! Client connections from the loopback addresses 127.0.0.2, 127.0.0.3,
//! ... (Linux routes all of 127/8): one address's ephemeral ports would
//! run out before 10,000 connections to one server port.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// The client address of the `index`th connection when each address
/// makes `per_ip` of them: 127.0.0.2 onwards, up to 127.0.0.254.
pub fn client_ip(index: usize, per_ip: usize) -> Result<Ipv4Addr, String> {
    let host = 2 + index / per_ip;
    if host > 254 {
        return Err("too many connections for --per-ip: raise it".to_owned());
    }
    Ok(Ipv4Addr::new(127, 0, 0, host as u8))
}

/// A TCP connection to `addr` from `ip`, with `TCP_NODELAY` set.
pub async fn connect_from(ip: Ipv4Addr, addr: SocketAddr) -> Result<TcpStream, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((ip, 0)))
        .map_err(|e| format!("bind {ip}: {e}"))?;
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr} from {ip}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(tcp)
}
