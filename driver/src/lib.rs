//! The kernel side of gru-cosim.
