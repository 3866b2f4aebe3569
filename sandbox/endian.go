package sandbox

import "encoding/binary"

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
