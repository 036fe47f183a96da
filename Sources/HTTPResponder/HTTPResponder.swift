import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the responder could not start.
public enum HTTPResponderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The host is not an IPv4 address literal.
    case address(String)
    /// A socket call failed with `errno`.
    case socket(call: String, errno: Int32)

    /// What failed, for logs.
    public var description: String {
        switch self {
        case .address(let host): return "'\(host)' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)"
        case .socket(let call, let code): return "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// A deliberately tiny, strict HTTP/1.1 responder over POSIX sockets, for health checks, metrics and
/// the feed's reference receiver; not a web server.
///
/// One dedicated thread accepts; each connection is served by a thread of its own (at most
/// `HTTPLimits.maxConnections`), so blocking socket calls never touch Swift's cooperative pool. The
/// handler runs on the connection's thread and must not block for long. Requests are refused, not
/// buffered, beyond the limits: head > 16 KiB → 431, body > max → 413, slow → 408, no Content-Length on
/// POST → 411, Transfer-Encoding → 501, other methods → 405. Keep-alive and `Expect: 100-continue` are
/// supported; pipelining is served in order.
public final class HTTPResponder: Sendable {
    /// The port bound (the one asked for, or the one the kernel chose for 0).
    public let port: UInt16
    /// The address bound.
    public let host: String
    private let listener: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let limits: HTTPLimits
    private let name: String
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let state = Mutex(State())
    private let acceptDone = DispatchSemaphore(value: 0)

    private struct State {
        var stopped = false
        var connections: Set<Int32> = []
    }

    /// Binds `host:port` (port 0: any free port), starts the accept thread and serves `handler`.
    public init(host: String = "127.0.0.1", port: UInt16 = 0, limits: HTTPLimits = HTTPLimits(), name: String = "hssk-http",
                handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws(HTTPResponderError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw .address(host) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(call: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw .socket(call: "bind/listen \(host):\(port)", errno: code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            let code = errno
            close(fd)
            throw .socket(call: "pipe", errno: code)
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.listener = fd
        self.wakeRead = ends[0]
        self.wakeWrite = ends[1]
        self.port = UInt16(bigEndian: actual.sin_port)
        self.host = host
        self.limits = limits
        self.name = name
        self.handler = handler
        let thread = Thread { [self] in
            acceptLoop()
            acceptDone.signal()
        }
        thread.name = "\(name)-accept"
        thread.start()
    }

    /// Stops accepting, ends open connections (their current request is cut off) and waits for the
    /// accept thread; safe to call more than once. Call it: the threads keep the responder alive until then.
    public func stop() {
        let connections = state.withLock { state -> Set<Int32>? in
            guard !state.stopped else { return nil }
            state.stopped = true
            return state.connections
        }
        guard let connections else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        acceptDone.wait()
        // A shut-down socket wakes its thread's poll; the thread closes it.
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        close(listener)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Number of connections being served.
    public var openConnections: Int { state.withLock { $0.connections.count } }

    // MARK: - Accepting

    private func acceptLoop() {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            guard fd >= 0 else {
                // Out of descriptors or an aborted connection: do not spin.
                if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                continue
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            var ip = peer.sin_addr
            inet_ntop(AF_INET, &ip, &text, socklen_t(INET_ADDRSTRLEN))
            let remote = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.connections.count < limits.maxConnections else { return false }
                state.connections.insert(fd)
                return true
            }
            guard admitted else {
                var connection = Connection(fd: fd, limits: limits)
                connection.send(HTTPResponse.text(503, "busy\n"), keepAlive: false)
                close(fd)
                continue
            }
            let thread = Thread { [self] in
                var connection = Connection(fd: fd, limits: limits)
                connection.serve(remote: remote, handler: handler)
                state.withLock { _ = $0.connections.remove(fd) }
                close(fd)
            }
            thread.name = "\(name)-connection"
            thread.start()
        }
    }
}

/// One client connection, served on its own thread.
private struct Connection {
    let fd: Int32
    let limits: HTTPLimits
    /// Bytes received and not yet consumed (a pipelined next request may start here).
    var buffer: [UInt8] = []

    init(fd: Int32, limits: HTTPLimits) {
        self.fd = fd
        self.limits = limits
    }

    /// Serves requests until the client closes, asks to close, errs or idles out.
    mutating func serve(remote: String, handler: (HTTPRequest) -> HTTPResponse) {
        while true {
            // Wait for the first byte of the next request (idle), then for the whole head (request timeout).
            if buffer.isEmpty {
                guard receive(deadline: .now + limits.idleTimeout) == .data else { return }
            }
            let deadline = ContinuousClock.now + limits.requestTimeout
            var scanned = 0
            var headEnd: Int?
            while headEnd == nil {
                headEnd = Self.blankLine(in: buffer, from: scanned)
                if headEnd != nil { break }
                scanned = max(0, buffer.count - 3)
                guard buffer.count <= limits.maxHeaderBytes else { return refuse(431, "request head larger than \(limits.maxHeaderBytes) bytes") }
                switch receive(deadline: deadline) {
                case .data: continue
                case .closed: return
                case .timeout: return refuse(408, "request not received in time")
                }
            }
            guard let end = headEnd, end <= limits.maxHeaderBytes else { return refuse(431, "request head larger than \(limits.maxHeaderBytes) bytes") }
            let head: HTTPRequestHead
            switch HTTPRequestHead.parse(buffer[0..<end], limits: limits) {
            case .failure(let error):
                var response = HTTPResponse.text(error.status, error.reason + "\n")
                if error.status == 405 { response.headers.append(HTTPHeader("Allow", limits.methods.sorted().joined(separator: ", "))) }
                send(response, keepAlive: false)
                return
            case .success(let parsed):
                head = parsed
            }
            let bodyStart = end + 4
            if head.expectsContinue, head.contentLength > 0, buffer.count < bodyStart + head.contentLength {
                guard write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: deadline) else { return }
            }
            while buffer.count < bodyStart + head.contentLength {
                switch receive(deadline: deadline) {
                case .data: continue
                case .closed: return
                case .timeout: return refuse(408, "request body not received in time")
                }
            }
            let request = HTTPRequest(method: head.method, target: head.target, headers: head.headers,
                                      body: Array(buffer[bodyStart..<(bodyStart + head.contentLength)]), remoteAddress: remote)
            buffer.removeFirst(bodyStart + head.contentLength)
            let response = handler(request)
            guard send(response, keepAlive: head.keepAlive), head.keepAlive else { return }
        }
    }

    /// Answers with an error and ends the connection.
    private mutating func refuse(_ status: Int, _ reason: String) {
        send(HTTPResponse.text(status, reason + "\n"), keepAlive: false)
    }

    /// Writes a response; false when the client is gone.
    @discardableResult
    mutating func send(_ response: HTTPResponse, keepAlive: Bool) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        for header in response.headers where !["content-length", "connection"].contains(header.name.lowercased()) {
            // Header values never carry line breaks (response splitting).
            head += "\(header.name): \(header.value.filter { $0 != "\r" && $0 != "\n" })\r\n"
        }
        head += "Content-Length: \(response.body.count)\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        return write(Array(head.utf8) + response.body, deadline: .now + limits.requestTimeout)
    }

    enum Received { case data, closed, timeout }

    /// Reads what is available into `buffer`, waiting until `deadline`.
    private mutating func receive(deadline: ContinuousClock.Instant) -> Received {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return .timeout }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Self.milliseconds(remaining))
            if ready < 0 { if errno == EINTR { continue } else { return .closed } }
            if ready == 0 { return .timeout }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return .data
            }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            return .closed
        }
    }

    /// Writes all bytes before `deadline`; false when the client is gone or too slow.
    private func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return false }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, Self.milliseconds(remaining))
            if ready < 0 { if errno == EINTR { continue } else { return false } }
            if ready == 0 { return false }
            // MSG_NOSIGNAL: a client that went away must not kill the process with SIGPIPE.
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue } else { return false } }
            offset += n
        }
        return true
    }

    /// Index of the `\r\n\r\n` ending the head, searching from `start`.
    static func blankLine(in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var i = start
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(1, ms))
    }
}
