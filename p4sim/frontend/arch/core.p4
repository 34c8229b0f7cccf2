/*
 * core.p4 for p4sim: the P4_16 core library, as the language specification
 * publishes it (declarations, names and parameter order are the specification's;
 * the comments are p4sim's).
 */

#ifndef _CORE_P4_
#define _CORE_P4_

/* Errors every target knows; programs may add more with their own `error { }`. */
error {
    NoError,                /* the parser finished without error */
    PacketTooShort,         /* extract/lookahead ran past the end of the packet */
    NoMatch,                /* no keyset of a select matched */
    StackOutOfBounds,       /* a header stack was indexed past its size */
    HeaderTooShort,         /* a varbit extraction asked for more bits than it holds */
    ParserTimeout,          /* the parser ran longer than the target allows */
    ParserInvalidArgument   /* a parser operation got an invalid argument */
}

/* The packet being parsed. */
extern packet_in {
    /* Read a fixed-size header from the packet and make it valid. */
    void extract<T>(out T hdr);
    /* Read a header with one varbit field that takes the given number of bits. */
    void extract<T>(out T variableSizeHeader,
                    in bit<32> variableFieldSizeInBits);
    /* Peek at the next bits without consuming them. */
    T lookahead<T>();
    /* Skip bits. */
    void advance(in bit<32> sizeInBits);
    /* Packet length in bytes (not every target can tell). */
    bit<32> length();
}

/* The packet being assembled by a deparser. */
extern packet_out {
    /* Append a header (if valid), or each valid header of a struct/stack/union. */
    void emit<T>(in T hdr);
}

/* In a parser: when `check` is false, stop with error `toSignal`. */
extern void verify(in bool check, in error toSignal);

/* The action that does nothing; the usual default of a table. */
@noWarn("unused")
action NoAction() {}

/* Match kinds every target supports. */
match_kind {
    exact,
    ternary,
    lpm
}

/* Compile-time assertions. */
extern bool static_assert(bool check, string message);
extern bool static_assert(bool check);

#endif  /* _CORE_P4_ */
