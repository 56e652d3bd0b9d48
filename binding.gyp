# One kernel source set, compiled once per instruction-set level into its own static library (the
# pattern of Node's deps/base64/base64.gyp); dispatch.cc picks a level at run time.
#
# Floating point: every level must compute the same bits as the TypeScript specification, so no
# FMA contraction (-ffp-contract=off), no fast-math, IEEE sqrt and division. -fno-math-errno only
# lets gcc emit sqrtps instead of a libm call that would set errno; it changes no result.
{
  'variables': {
    'kernel_sources': [
      'native/adam.cc',
      'native/adagrad.cc',
      'native/rmsprop.cc',
      'native/sgd.cc',
      'native/adadelta.cc',
      'native/adamax.cc',
      'native/nadam.cc',
      'native/radam.cc',
      'native/lion.cc',
      'native/swats.cc',
      'native/gradients.cc',
      'native/scaler.cc',
      'native/probes.cc',
    ],
    'strict_fp_flags': ['-O3', '-fPIC', '-ffp-contract=off', '-fno-math-errno', '-fno-fast-math'],
  },
  'target_defaults': {
    'cflags_cc': ['<@(strict_fp_flags)', '-std=c++17'],
    'cflags_cc!': ['-std=gnu++17', '-O2'],
    'xcode_settings': {
      'OTHER_CPLUSPLUSFLAGS': ['<@(strict_fp_flags)', '-std=c++17'],
      'MACOSX_DEPLOYMENT_TARGET': '11.0',
    },
    'msvs_settings': {
      'VCCLCompilerTool': {'AdditionalOptions': ['/fp:precise', '/fp:contract-', '/std:c++17']},
    },
  },
  'targets': [
    {
      'target_name': 'kernels_scalar',
      'type': 'static_library',
      'sources': ['<@(kernel_sources)'],
      'defines': ['SIMD_OPTIM_TARGET_SCALAR'],
      # The reference level stays scalar: no auto-vectorization of its loops.
      'cflags_cc': ['-fno-tree-vectorize', '-fno-tree-slp-vectorize'],
      'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-fno-vectorize', '-fno-slp-vectorize']},
    },
    {
      'target_name': 'simd_optim',
      'sources': ['native/binding.cc', 'native/async.cc', 'native/plan.cc', 'native/reduce.cc', 'native/scaler-binding.cc',
                  'native/dispatch.cc', 'native/pool.cc'],
      # node-addon-api's headers by path, as its README's alternative to its gyp target: depending
      # on that target made node-gyp write its makefiles into a node-addon-api/ folder inside the
      # installed package. NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS is what the target defined.
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'dependencies': ['kernels_scalar'],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a Worker is terminated inside a call, a throw
      # is impossible; without it node-addon-api aborts the whole process trying (issue: a server
      # that recycles Workers died). The binding itself never throws then (native/binding.cc).
      'defines': [
        'NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED', 'NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS',
        'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
      ],
      'conditions': [
        ['target_arch=="x64"', {'dependencies': ['kernels_sse2', 'kernels_avx2', 'kernels_avx512']}],
        ['target_arch=="arm64"', {'dependencies': ['kernels_neon']}],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'kernels_sse2',
          'type': 'static_library',
          'sources': ['<@(kernel_sources)'],
          'defines': ['SIMD_OPTIM_TARGET_SSE2'],
        },
        {
          'target_name': 'kernels_avx2',
          'type': 'static_library',
          'sources': ['<@(kernel_sources)'],
          'defines': ['SIMD_OPTIM_TARGET_AVX2'],
          'cflags_cc': ['-mavx2', '-mfma'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/arch:AVX2']}},
        },
        {
          'target_name': 'kernels_avx512',
          'type': 'static_library',
          'sources': ['<@(kernel_sources)'],
          'defines': ['SIMD_OPTIM_TARGET_AVX512'],
          # -Wno-maybe-uninitialized: gcc 12 warns inside its own avx512fintrin.h, where the masked
          # builtins take _mm512_undefined_ps() as their pass-through operand.
          'cflags_cc': ['-mavx512f', '-Wno-maybe-uninitialized', '-Wno-uninitialized'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx512f']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/arch:AVX512']}},
        },
      ],
    }],
    ['target_arch=="arm64"', {
      'targets': [
        {
          'target_name': 'kernels_neon',
          'type': 'static_library',
          'sources': ['<@(kernel_sources)'],
          'defines': ['SIMD_OPTIM_TARGET_NEON'],
        },
      ],
    }],
  ],
}
