/* Compiled by tests/api/compile-fail.sh, which expects every WRONG_* case to
 * be refused: an SNI, session or OCSP request answered with another kind's
 * _done() must not compile. RIGHT shows the snippet is otherwise valid. */
#include <portls/portls.h>

int answer(portls_sni_request *sni, portls_session_request *session, portls_ocsp_request *ocsp);

int answer(portls_sni_request *sni, portls_session_request *session, portls_ocsp_request *ocsp) {
#if defined(RIGHT)
  return portls_sni_request_done(sni, NULL, NULL) +
         portls_session_request_done(session, NULL, 0, NULL) +
         portls_ocsp_request_done(ocsp, NULL, 0, NULL);
#elif defined(WRONG_SNI_AS_OCSP)
  (void)session, (void)ocsp;
  return portls_ocsp_request_done(sni, NULL, 0, NULL);
#elif defined(WRONG_SESSION_AS_SNI)
  (void)sni, (void)ocsp;
  return portls_sni_request_done(session, NULL, NULL);
#elif defined(WRONG_OCSP_AS_SESSION)
  (void)sni, (void)session;
  return portls_session_request_done(ocsp, NULL, 0, NULL);
#else
#error "define RIGHT or one WRONG_* case"
#endif
}
