# console-recv SOCKET OUT: a runtime's end of a console socket (runc's
# --console-socket protocol): listens on SOCKET, takes one pty master
# (SCM_RIGHTS, with its name as the message), writes "name NAME index N"
# to OUT.names, then copies what the master reads to OUT until killed
# (at most 60 s).
import array, fcntl, os, socket, struct, sys, time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
open(out + ".listening", "w").write("ok")
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(4))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[:4])
m = fds[0]
idx = struct.unpack("I", fcntl.ioctl(m, 0x80045430, bytes(4)))[0]  # TIOCGPTN
open(out + ".names", "w").write("name %s index %d fds %d\n" % (msg.decode(), idx, len(fds)))
end = time.time() + 60
with open(out, "ab", buffering=0) as f:
    while time.time() < end:
        try:
            b = os.read(m, 4096)
        except OSError:
            time.sleep(0.1)
            continue
        if not b:
            time.sleep(0.1)
            continue
        f.write(b)
