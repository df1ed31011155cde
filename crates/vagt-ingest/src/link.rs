//! A TCP connection's socket, which can be taken off the runtime's reactor while its peer is
//! tarpitted: a parked socket's segments wake no thread, and it is read on a timer instead.

use std::io::{self, Read};

use tokio::net::TcpStream;

/// The socket of one connection (see the module docs).
pub(crate) struct Link(Option<Socket>);

enum Socket {
    /// Registered with the reactor: read on readiness, written with back-pressure.
    Live(TcpStream),
    /// Deregistered (still non-blocking): read with [`Link::read_now`] only.
    Parked(std::net::TcpStream),
}

impl Link {
    /// A link for an accepted connection.
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self(Some(Socket::Live(stream)))
    }

    /// The registered socket, registering a parked one again first.
    pub(crate) fn live(&mut self) -> io::Result<&mut TcpStream> {
        self.0 = match self.0.take() {
            Some(Socket::Parked(s)) => Some(Socket::Live(TcpStream::from_std(s)?)),
            other => other,
        };
        match &mut self.0 {
            Some(Socket::Live(s)) => Ok(s),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Takes the socket off the reactor until [`Link::live`] is called again.
    pub(crate) fn park(&mut self) -> io::Result<()> {
        self.0 = match self.0.take() {
            Some(Socket::Live(s)) => Some(Socket::Parked(s.into_std()?)),
            other => other,
        };
        Ok(())
    }

    /// Reads what the socket holds now, without waiting (`WouldBlock` when it holds nothing).
    pub(crate) fn read_now(&mut self, chunk: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(Socket::Parked(s)) => s.read(chunk),
            Some(Socket::Live(s)) => s.try_read(chunk),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_parked_socket_is_read_on_demand_and_registered_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let mut link = Link::new(accepted);
        link.park().unwrap();
        link.park().unwrap();
        let mut chunk = [0u8; 16];
        let nothing = link.read_now(&mut chunk).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        peer.write_all(b"abc").await.unwrap();
        let mut got = 0;
        while got == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            got = link.read_now(&mut chunk).unwrap_or(0);
        }
        assert_eq!(&chunk[..got], b"abc");
        // Live again: readiness-driven reads and writes work.
        let live = link.live().unwrap();
        live.write_all(b"ok").await.unwrap();
        let mut answer = [0u8; 2];
        peer.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ok");
        peer.write_all(b"d").await.unwrap();
        assert_eq!(link.live().unwrap().read(&mut chunk).await.unwrap(), 1);
    }
}
