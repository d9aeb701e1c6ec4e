//! The serial link: protocol frames over a serial device.
