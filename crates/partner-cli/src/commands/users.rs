//! `partner users list | get | create | update | delete`.

use futures_util::TryStreamExt as _;
use partner_sdk::podero::{NewUser, Role, UserId, UserUpdate};
use partner_sdk::{ApiError, PoderoClient};

use super::{print_json, print_stream};
use crate::cli::{RoleArg, UserFields, UsersArgs, UsersCommand, Vendor};
use crate::config::Overrides;
use crate::error::CliError;

/// Users commands talk to Podero only.
fn podero(error: ApiError) -> CliError {
    CliError::from_api(error, Vendor::Podero)
}

pub(crate) async fn run(args: UsersArgs, overrides: &Overrides) -> Result<(), CliError> {
    let lookup = overrides.lookup(podero_auth::ENV_BASE_URL);
    let client = match overrides.store()? {
        Some(store) => PoderoClient::from_lookup_shared(lookup, store)?,
        None => PoderoClient::from_lookup(lookup)?,
    };
    let users = client.users();
    match args.command {
        UsersCommand::List => print_stream(users.pages().map_err(podero)).await,
        UsersCommand::Get { user_id } => {
            print_json(&users.get(&parse_id(&user_id)?).await.map_err(podero)?)
        }
        UsersCommand::Create {
            email,
            role,
            fields,
        } => {
            let user = fields.apply_new(NewUser::new(email, role.into()));
            print_json(&users.create(&user).await.map_err(podero)?)
        }
        UsersCommand::Update {
            user_id,
            email,
            role,
            fields,
        } => {
            let update = fields
                .apply_update(UserUpdate::new())
                .set_email(email)
                .set_role(role.map(Into::into));
            if update.is_empty() {
                return Err(CliError::usage(
                    "nothing to update",
                    "pass at least one field, e.g. --town Berlin",
                ));
            }
            print_json(
                &users
                    .update(&parse_id(&user_id)?, &update)
                    .await
                    .map_err(podero)?,
            )
        }
        UsersCommand::Delete { user_id } => {
            users.delete(&parse_id(&user_id)?).await.map_err(podero)
        }
    }
}

fn parse_id(text: &str) -> Result<UserId, CliError> {
    text.parse().map_err(|_| {
        CliError::usage(
            format!(
                "\"{}\" is not a user id",
                auth_core::redact::sanitize(text, 80)
            ),
            "user ids are UUIDs, as `partner users list` prints them",
        )
    })
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::User => Role::User,
            RoleArg::Staff => Role::Staff,
            RoleArg::Admin => Role::Admin,
        }
    }
}

impl UserFields {
    fn apply_new(self, user: NewUser) -> NewUser {
        user.set_external_user_id(self.external_user_id)
            .set_first_name(self.first_name)
            .set_last_name(self.last_name)
            .set_zip_code(self.zip_code)
            .set_town(self.town)
            .set_country(self.country)
    }

    fn apply_update(self, update: UserUpdate) -> UserUpdate {
        update
            .set_external_user_id(self.external_user_id)
            .set_first_name(self.first_name)
            .set_last_name(self.last_name)
            .set_zip_code(self.zip_code)
            .set_town(self.town)
            .set_country(self.country)
    }
}
