"""The one outbound layer to e-invoice.be: the Admin API client (admin), the tenant API client
(tenant), their shared error vocabulary and HTTP plumbing, the shared quota and the messages people read."""
