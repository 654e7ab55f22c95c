package dev.zerodrop.delivery;

import org.eclipse.jetty.client.ProtocolHandler;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.client.transport.HttpConversation;
import org.eclipse.jetty.client.transport.HttpExchange;
import org.eclipse.jetty.client.transport.HttpRequest;
import org.eclipse.jetty.http.HttpStatus;

/**
 * Skips every interim (1xx) response except 101, as RFC 9110 section 15.2 asks of a client: it reads
 * them and waits for the final one. Jetty's own handlers cover only 100, 102 and 103; an unknown 1xx
 * (150, 199) would otherwise be taken for the final response, and the real one after it ignored.
 * The last interim status is kept on the request, so that a receiver that stops after a 1xx is
 * recorded with that status.
 */
final class InterimResponses implements ProtocolHandler {
    static final String NAME = "zerodrop-interim";
    /** Request attribute: the status of the last interim response received. */
    static final String LAST_STATUS = InterimResponses.class.getName() + ".status";

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public boolean accept(Request request, Response response) {
        return HttpStatus.isInterim(response.getStatus());
    }

    @Override
    public Response.Listener getResponseListener() {
        return new Response.Listener() {
            @Override
            public void onSuccess(Response response) {
                Request request = response.getRequest();
                request.attribute(LAST_STATUS, response.getStatus());
                HttpConversation conversation = ((HttpRequest) request).getConversation();
                conversation.updateResponseListeners(null); // the final response goes to the caller's listener
                HttpExchange exchange = conversation.getExchanges().peekLast();
                if (exchange != null) exchange.resetResponse();
            }

            @Override
            public void onFailure(Response response, Throwable failure) {
                // This interim head itself broke off: it is not recorded, the failure goes to the caller.
                HttpConversation conversation = ((HttpRequest) response.getRequest()).getConversation();
                conversation.updateResponseListeners(null);
                HttpExchange exchange = conversation.getExchanges().peekLast();
                if (exchange != null) {
                    exchange.getResponseListeners().emitFailureComplete(
                            new Result(exchange.getRequest(), exchange.getRequestFailure(), response, failure));
                }
            }
        };
    }
}
