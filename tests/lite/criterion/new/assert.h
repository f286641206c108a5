/* criterion-lite: the comparison macros of <criterion/new/assert.h>. */
#ifndef CRITERION_LITE_ASSERT_H
#define CRITERION_LITE_ASSERT_H

#include "../criterion.h"

/* eq(u32, x, 0) expands to unsigned comparisons with 0. */
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wsign-compare"

/* Each operand is evaluated exactly once, as in Criterion. */
#define CRL_CMP_str(a, b) strcmp((a), (b))
#define CRL_CMP_(a, b)                                                       \
    __extension__({                                                          \
        __auto_type crl_a_ = (a);                                            \
        __auto_type crl_b_ = (b);                                            \
        (crl_a_ > crl_b_) - (crl_a_ < crl_b_);                               \
    })
#define CRL_CMP_int CRL_CMP_
#define CRL_CMP_long CRL_CMP_
#define CRL_CMP_i8 CRL_CMP_
#define CRL_CMP_i16 CRL_CMP_
#define CRL_CMP_i32 CRL_CMP_
#define CRL_CMP_i64 CRL_CMP_
#define CRL_CMP_u8 CRL_CMP_
#define CRL_CMP_u16 CRL_CMP_
#define CRL_CMP_u32 CRL_CMP_
#define CRL_CMP_u64 CRL_CMP_
#define CRL_CMP_uint CRL_CMP_
#define CRL_CMP_ulong CRL_CMP_
#define CRL_CMP_sz CRL_CMP_
#define CRL_CMP_ptr(a, b) CRL_CMP_((uintptr_t)(a), (uintptr_t)(b))
#define CRL_CMP_chr CRL_CMP_
#define CRL_CMP_dbl CRL_CMP_
#define CRL_CMP_flt CRL_CMP_

#define eq(T, a, b) (CRL_CMP_##T(a, b) == 0)
#define ne(T, a, b) (CRL_CMP_##T(a, b) != 0)
#define lt(T, a, b) (CRL_CMP_##T(a, b) < 0)
#define le(T, a, b) (CRL_CMP_##T(a, b) <= 0)
#define gt(T, a, b) (CRL_CMP_##T(a, b) > 0)
#define ge(T, a, b) (CRL_CMP_##T(a, b) >= 0)
#define not(x) (!(x))
#define zero(T, a) ((a) == 0)

#endif
